// oidc-provider 9 ships no type declarations; the EHR stand-in uses a small part of it.
declare module 'oidc-provider' {
  const Provider: any; // eslint-disable-line @typescript-eslint/no-explicit-any
  export default Provider;
}

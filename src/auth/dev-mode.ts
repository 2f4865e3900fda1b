/** ESO_AUTH_DISABLED is for a developer's own machine: it is refused on anything but a loopback address. */

/** 127.0.0.0/8, ::1 and localhost. */
export function isLoopbackHost(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase();
  return h === 'localhost' || h === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h) || h === '::ffff:127.0.0.1';
}

/** Rule: authentication may be disabled only when the server listens on loopback. */
export function assertAuthMayBeDisabled(host: string): void {
  if (!isLoopbackHost(host)) {
    throw new Error(`ESO_AUTH_DISABLED=true is refused: HOST=${host} is not a loopback address (127.0.0.1, ::1, localhost)`);
  }
}

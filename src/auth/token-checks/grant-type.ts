import { invalidRequest, unsupportedGrantType } from '../oauth-error.ts';
import { param, type TokenCheck } from '../token-request.ts';

/** Rule: grant_type is present and is client_credentials, the only grant of SMART Backend Services. */
export const checkGrantType: TokenCheck = (ctx) => {
  const grantType = param(ctx, 'grant_type');
  if (!grantType) throw invalidRequest('grant_type is required');
  if (grantType !== 'client_credentials') throw unsupportedGrantType('Only grant_type=client_credentials is supported');
};

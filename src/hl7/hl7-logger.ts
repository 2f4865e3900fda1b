/**
 * The logger the HL7 modules accept: pino's method shape, so the app's redacting pino logger can
 * be passed as is. HL7 code logs ids, types, senders and outcomes only, never message text.
 */
export interface Hl7Logger {
  debug(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

/** Discards everything (the default, and for tests). */
export const silentLogger: Hl7Logger = { debug() {}, info() {}, warn() {}, error() {} };

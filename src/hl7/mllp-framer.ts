import { decodeV2, encodeV2 } from './charset.ts';

/**
 * MLLP framing, pure: bytes in, frames and framing errors out, in arrival order. A frame is
 * 0x0B <message> 0x1C 0x0D. Frames may be split across reads and several may come in one read.
 * Bytes outside a frame are skipped to the next 0x0B (resynchronisation); a frame that grows past
 * the limit is dropped while its bytes are counted, and reported once, so memory stays bounded.
 * @see HL7 v2.5.1 Appendix C (MLLP), Release 2 section 1.4 (block format)
 */

export const VT = 0x0b;
export const FS = 0x1c;
export const CR = 0x0d;

export type FramerEvent =
  | { type: 'frame'; data: Buffer }
  /** Bytes outside any frame were skipped. */
  | { type: 'garbage'; bytes: number }
  /** A new start block came before the end of the previous frame: that frame is lost. */
  | { type: 'truncated'; bytes: number }
  /** A frame passed `maxMessageBytes`; `head` is its first bytes (for the MSH in the reply). Its remaining bytes are discarded. */
  | { type: 'oversize'; head: Buffer };

export interface MllpFramerOptions {
  maxMessageBytes: number;
  /** How much of an oversize frame is kept for the reply's header; default 2048. */
  headBytes?: number;
}

/**
 * Stateful MLLP de-framer for one connection. `push` never throws on any input.
 * The end block is recognised at 0x1C; the 0x0D after it is consumed when present (a missing
 * one is tolerated: some senders omit it).
 */
export class MllpFramer {
  private state: 'idle' | 'frame' | 'skip' = 'idle';
  private parts: Buffer[] = [];
  private size = 0;
  private readonly max: number;
  private readonly headBytes: number;

  constructor(options: MllpFramerOptions) {
    if (!(options.maxMessageBytes > 0)) throw new Error('maxMessageBytes must be positive');
    this.max = options.maxMessageBytes;
    this.headBytes = options.headBytes ?? 2048;
  }

  /** True while a frame is partly received (an idle timeout would lose it). */
  get inFrame(): boolean {
    return this.state !== 'idle';
  }

  push(chunk: Buffer): FramerEvent[] {
    const out: FramerEvent[] = [];
    let i = 0;
    while (i < chunk.length) {
      if (this.state === 'idle') {
        const start = chunk.indexOf(VT, i);
        const end = start < 0 ? chunk.length : start;
        const junk = countJunk(chunk, i, end);
        if (junk > 0) out.push({ type: 'garbage', bytes: junk });
        if (start < 0) return out;
        this.begin();
        i = start + 1;
        continue;
      }
      const fs = chunk.indexOf(FS, i);
      const vt = chunk.indexOf(VT, i);
      const stop = fs < 0 ? vt : vt < 0 ? fs : Math.min(fs, vt);
      const upto = stop < 0 ? chunk.length : stop;
      if (this.state === 'frame') {
        if (this.size + (upto - i) > this.max) {
          this.append(chunk.subarray(i, Math.min(upto, i + Math.max(0, this.headBytes - this.size))));
          out.push({ type: 'oversize', head: Buffer.concat(this.parts).subarray(0, this.headBytes) });
          this.parts = [];
          this.state = 'skip';
        } else this.append(chunk.subarray(i, upto));
      }
      if (stop < 0) return out;
      if (stop === vt) {
        // A new frame starts before this one ended.
        if (this.state === 'frame') out.push({ type: 'truncated', bytes: this.size });
        this.begin();
        i = stop + 1;
        continue;
      }
      // End block.
      if (this.state === 'frame') out.push({ type: 'frame', data: this.parts.length === 1 ? this.parts[0] : Buffer.concat(this.parts) });
      this.parts = [];
      this.size = 0;
      this.state = 'idle';
      i = stop + 1;
      if (chunk[i] === CR) i++;
    }
    return out;
  }

  private begin(): void {
    this.state = 'frame';
    this.parts = [];
    this.size = 0;
  }

  private append(b: Buffer): void {
    if (b.length === 0) return;
    // Copy: the socket may reuse its buffer.
    this.parts.push(Buffer.from(b));
    this.size += b.length;
  }
}

/** Counts skipped bytes, ignoring CR/LF between frames (common, and harmless). */
function countJunk(chunk: Buffer, from: number, to: number): number {
  let n = 0;
  for (let j = from; j < to; j++) if (chunk[j] !== CR && chunk[j] !== 0x0a) n++;
  return n;
}

/** Wraps a message for the wire: VT, text (ending in CR) in the character set its MSH-18 declares, FS, CR. */
export function frameMessage(text: string): Buffer {
  const body = text.endsWith('\r') ? text : `${text}\r`;
  return Buffer.concat([Buffer.from([VT]), encodeV2(body), Buffer.from([FS, CR])]);
}

/**
 * Decodes a frame's bytes by the character set in MSH-18 (see charset.ts), for logging and
 * replies. Lenient: bytes not valid in the set are read as Latin-1 here; the receiver, which gets
 * the bytes themselves, refuses such a message.
 */
export function decodeFrame(data: Buffer): string {
  const r = decodeV2(data);
  return r.ok ? r.text : r.reason === 'unknown' ? data.toString('utf8') : r.text;
}

/**
 * An EPR stand-in for outbound HL7 v2: Medplum's Hl7Connection (an independent MLLP peer) around
 * our own loopback net.Server (Hl7Server.start would bind every interface). Records each message's
 * text and answers as `behaviour` says (fixed, or asked per message). `listen(port)` may come later
 * on a fixed port, to play an EPR that was down.
 */
import { Hl7Connection } from '@medplum/hl7';
import net from 'node:net';

export type EprBehaviour = 'AA' | 'AE' | 'AR' | 'CA' | 'silent' | 'slow' | 'reset' | 'hangup' | 'garbage';

export function eprStandIn(behaviour: EprBehaviour | (() => EprBehaviour) = 'AA', errorText = 'Patient not known to this EPR') {
  const received: string[] = [];
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
    const conn = new Hl7Connection(socket);
    conn.addEventListener('error', () => undefined);
    conn.addEventListener('message', (ev) => {
      received.push(ev.message.toString());
      const b = typeof behaviour === 'function' ? behaviour() : behaviour;
      if (b === 'silent') return;
      if (b === 'reset') return void socket.resetAndDestroy();
      if (b === 'hangup') return void socket.end();
      if (b === 'garbage') return void socket.write('\x0bnot an ack\x1c\r');
      if (b === 'slow') return void setTimeout(() => conn.send(ev.message.buildAck()), 100);
      const ack = ev.message.buildAck({ ackCode: b });
      if (b === 'AE' || b === 'AR') ack.getSegment('MSA')!.setField(3, errorText);
      conn.send(ack);
    });
  });
  return {
    received,
    async listen(port = 0): Promise<number> {
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(port, '127.0.0.1', () => resolve());
      });
      return (server.address() as net.AddressInfo).port;
    },
    async close(): Promise<void> {
      if (!server.listening) return;
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

// A server on 127.0.0.1 that accepts connections (over TLS: completes the handshake) and then never
// answers: the KMS that hangs. Used to prove that keyrings time out and honour aborts through the
// vendors' real client libraries. stop() destroys every held socket.
import { createServer as createTcpServer, type Server, type Socket } from 'node:net';
import { createServer as createTlsServer } from 'node:tls';
import { freePort } from './process.js';

export interface SilentServer {
  readonly port: number;
  /** `http://127.0.0.1:<port>`, or `https://…` for a TLS server. */
  readonly url: string;
  /** How many connections were accepted (TLS: completed the handshake) since the start. */
  readonly accepted: () => number;
  /** How many of them are still open. */
  readonly open: () => number;
  stop(): Promise<void>;
}

/** Starts a silent server; with `tls` (a key and certificate in PEM) it speaks TLS up to the handshake. */
export async function startSilentServer(tls?: { key: string; cert: string }): Promise<SilentServer> {
  const sockets = new Set<Socket>();
  let accepted = 0;
  const hold = (socket: Socket) => {
    accepted++;
    sockets.add(socket);
    socket.on('error', () => undefined);
    // Reading (and dropping) the request lets the socket see the client's end and close.
    socket.resume();
    socket.on('close', () => sockets.delete(socket));
  };
  const server: Server = tls ? createTlsServer(tls, hold) : createTcpServer(hold);
  const port = await freePort();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve());
  });
  return {
    port,
    url: `${tls ? 'https' : 'http'}://127.0.0.1:${port}`,
    accepted: () => accepted,
    open: () => sockets.size,
    stop: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

/** Starting a CLI server: listen, or close the app and say in one line why it could not. */
import type { FastifyInstance } from 'fastify';

export async function listen(app: FastifyInstance, host: string, port: number): Promise<string> {
  try {
    return await app.listen({ host, port });
  } catch (e) {
    await app.close();
    const err = e as NodeJS.ErrnoException;
    throw new Error(err.code === 'EADDRINUSE' ? `${host}:${port} is already in use (--port 0 picks a free port)` : err.message);
  }
}

// Middleware a caller adds to one command (`command.middlewareStack.add(…)`) belongs to the requests
// that command causes. The handlers send commands of their own to the wrapped client, so the
// caller's middleware is copied onto each of them: the ciphertext PUT, every ranged GET of a read
// (tail, trailer, body), the HEAD, the source reads and the COPY of a CopyObject, the trailer part and
// the (abort after a failed) Complete of a multipart upload.
import type { S3Client } from '@aws-sdk/client-s3';
import type { HandlerContext } from './context.js';

type Stack = S3Client['middlewareStack'];
type StackHolder = { readonly middlewareStack?: Stack };

function commandStackOf(command: object): StackHolder['middlewareStack'] {
  const stack = (command as StackHolder).middlewareStack;
  return typeof stack?.applyToStack === 'function' && typeof stack.identify === 'function' ? stack : undefined;
}

/**
 * Adds the middleware of the caller's command `from` to the internal command `to` (a command not yet
 * sent, whose own stack is still empty).
 */
export function forwardCommandMiddleware(from: object, to: object): void {
  const source = commandStackOf(from);
  const target = (to as StackHolder).middlewareStack;
  if (source && target) source.applyToStack(target);
}

/**
 * The handler context for one caller command: when the command carries middleware, `inner` becomes
 * a view of the wrapped client (same config, same client middleware) whose `send` forwards it.
 */
export function withCommandMiddleware(ctx: HandlerContext, command: object): HandlerContext {
  if ((commandStackOf(command)?.identify().length ?? 0) === 0) return ctx;
  const inner = ctx.inner;
  const send = (internal: object, options?: unknown) => {
    forwardCommandMiddleware(command, internal);
    return inner.send(internal as never, options as never);
  };
  const view = Object.create(inner, { send: { value: send } }) as S3Client;
  return { ...ctx, inner: view };
}

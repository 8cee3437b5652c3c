import { BaseRpcContext } from '@nestjs/microservices';
import type { ReceivedMessage } from '@pipeline/ports';

type BusContextArgs = [message: ReceivedMessage, queue: string];

/** What a bus handler gets as `@Ctx()`: the received message and the queue it came from. */
export class BusContext extends BaseRpcContext<BusContextArgs> {
  constructor(message: ReceivedMessage, queue: string) {
    super([message, queue]);
  }

  /** The message as received (delivery count, ids, application properties, lock). */
  getMessage(): ReceivedMessage {
    return this.args[0];
  }

  /** The session the message belongs to, on a session queue. */
  getSessionId(): string | undefined {
    return this.args[0].sessionId;
  }

  getQueue(): string {
    return this.args[1];
  }
}

/**
 * Drains new-capture-file notices (Event Grid → Service Bus queue, see capture-notice.ts) so bronze
 * learns of a file as soon as it lands instead of at its next listing.
 *
 * Invariants:
 * - A notice is a hint, never memory. A message is completed once its file is pending in the
 *   planner (or the notice is ignored); the checkpoint alone records what was consumed. A notice
 *   completed before its file's batch commits is lost with the process, and the file is found
 *   again by the listing bronze always runs first after a start (then every BRONZE_LIST_INTERVAL).
 * - Duplicates are harmless: a file already pending or consumed is ignored (Event Grid delivers at
 *   least once).
 * - Nothing is dropped silently: a body that is not a notice is dead-lettered with the reason
 *   `MalformedNotice` and a description of what is wrong; an ignored notice is logged (debug).
 * - The bus failing is not fatal: listing is the safety net, so the reader reports the failure and
 *   the caller lists instead.
 */
import { isFatalBackendError, type QueueReceiver, type ReceivedMessage } from '@pipeline/ports';
import type { Logger } from '@pipeline/telemetry';
import { parseCaptureNotices, type NoticeScope } from './capture-notice';
import type { DiscoveredFile } from './partition-discovery';

export const MALFORMED_NOTICE = 'MalformedNotice';
/** Service Bus keeps dead-letter descriptions short (4 KiB). */
const MAX_DESCRIPTION = 1024;

export interface CaptureNoticeReaderOptions {
  scope: NoticeScope;
  /** Messages taken per drain at most, so a flood of notices cannot hold off the batches. */
  maxMessages: number;
  /** Messages asked for per receive call. */
  receiveBatch: number;
  /** How long a receive waits for a first message, in ms (short: the step goes on without). */
  maxWaitMs: number;
}

/**
 * Decides on one noticed file: adds it to the pending files and returns `undefined`, or returns
 * why it is not taken.
 */
export type AdmitFile = (file: DiscoveredFile) => string | undefined;

export interface NoticeDrain {
  messages: number;
  /** Files added to the pending files. */
  taken: number;
  /** Notices of files not taken (duplicates, other blobs, other event types). */
  ignored: number;
  /** Messages dead-lettered as malformed. */
  malformed: number;
  /** Set when reading the queue failed for a reason a retry may fix: the caller should list now. */
  failed?: Error;
}

export const DEFAULT_NOTICE_READER_OPTIONS: Omit<CaptureNoticeReaderOptions, 'scope'> = { maxMessages: 1_000, receiveBatch: 100, maxWaitMs: 0 };

export class CaptureNoticeReader {
  constructor(
    private readonly receiver: QueueReceiver,
    private readonly logger: Logger,
    private readonly options: CaptureNoticeReaderOptions,
  ) {}

  get queue(): string {
    return this.receiver.queue;
  }

  /** Takes the notices waiting now (up to `maxMessages`), admitting each noticed file with `admit`. */
  async drain(admit: AdmitFile): Promise<NoticeDrain> {
    const drain: NoticeDrain = { messages: 0, taken: 0, ignored: 0, malformed: 0 };
    try {
      while (drain.messages < this.options.maxMessages) {
        const wanted = Math.min(this.options.receiveBatch, this.options.maxMessages - drain.messages);
        const messages = await this.receiver.receive({ maxMessages: wanted, maxWaitMs: this.options.maxWaitMs });
        for (const message of messages) await this.settle(message, admit, drain);
        drain.messages += messages.length;
        if (messages.length < wanted) break;
      }
    } catch (error) {
      // A missing queue or refused credentials stop bronze like every service; anything else is retried by listing.
      if (isFatalBackendError(error)) throw error;
      drain.failed = error instanceof Error ? error : new Error(String(error));
      this.logger.warn({ err: drain.failed, queue: this.queue }, 'reading capture-file notices failed; listing the lake instead');
    }
    return drain;
  }

  private async settle(message: ReceivedMessage, admit: AdmitFile, drain: NoticeDrain): Promise<void> {
    const parsed = parseCaptureNotices(message.body, this.options.scope);
    if ('malformed' in parsed) {
      drain.malformed++;
      this.logger.warn({ queue: this.queue, messageId: message.messageId, reason: parsed.malformed }, 'dead-lettering a message that is not a capture-file notice');
      await this.receiver.deadLetter(message, MALFORMED_NOTICE, parsed.malformed.slice(0, MAX_DESCRIPTION));
      return;
    }
    for (const notice of parsed.notices) {
      const reason = 'ignored' in notice ? notice.ignored : admit(notice);
      if (reason === undefined) {
        drain.taken++;
        continue;
      }
      drain.ignored++;
      this.logger.debug({ queue: this.queue, messageId: message.messageId, ...('ignored' in notice ? {} : { path: notice.path }), reason }, 'ignoring a capture-file notice');
    }
    await this.receiver.complete(message);
  }
}

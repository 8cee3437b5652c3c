/**
 * Progress of a long run: a redrawn bar with rate and ETA on a terminal, plain periodic lines
 * otherwise (CI logs, files), always on stderr so stdout stays for results.
 */
import type { Clock } from '@pipeline/engine';

export interface ProgressSnapshot {
  events: number;
  bytesRead: number;
  totalBytes: number | undefined;
}

export class ProgressReporter {
  private readonly startedAt: number;
  private lastDrawAt = 0;

  constructor(
    private readonly out: NodeJS.WritableStream & { isTTY?: boolean; columns?: number },
    private readonly clock: Clock,
    private readonly intervalMs: number = out.isTTY ? 200 : 5000,
  ) {
    this.startedAt = clock.now();
  }

  update(snapshot: ProgressSnapshot, force = false): void {
    const now = this.clock.now();
    if (!force && now - this.lastDrawAt < this.intervalMs) return;
    this.lastDrawAt = now;
    const line = formatProgress(snapshot, now - this.startedAt, this.out.isTTY ? Math.max(10, Math.min(40, (this.out.columns ?? 80) - 60)) : 0);
    if (this.out.isTTY) this.out.write(`\r${line}\x1b[K`);
    else this.out.write(`${line}\n`);
  }

  /** Ends the bar line on a terminal so the summary starts on a fresh line. */
  finish(snapshot: ProgressSnapshot): void {
    this.update(snapshot, true);
    if (this.out.isTTY) this.out.write('\n');
  }
}

export function formatProgress(s: ProgressSnapshot, elapsedMs: number, barWidth: number): string {
  const seconds = Math.max(elapsedMs / 1000, 1e-3);
  const rate = s.events / seconds;
  const parts: string[] = [];
  if (s.totalBytes && s.totalBytes > 0) {
    const fraction = Math.min(1, s.bytesRead / s.totalBytes);
    if (barWidth > 0) {
      const filled = Math.round(fraction * barWidth);
      parts.push(`[${'#'.repeat(filled)}${'-'.repeat(barWidth - filled)}]`);
    }
    parts.push(`${(fraction * 100).toFixed(1).padStart(5)}%`);
    const eta = fraction > 0 ? (elapsedMs / fraction - elapsedMs) / 1000 : undefined;
    parts.push(`${s.events.toLocaleString('en-US')} events`, `${formatRate(rate)}/s`, `ETA ${eta === undefined ? '?' : formatSeconds(eta)}`);
  } else {
    parts.push(`${s.events.toLocaleString('en-US')} events`, `${formatRate(rate)}/s`, `elapsed ${formatSeconds(seconds)}`);
  }
  return parts.join('  ');
}

function formatRate(rate: number): string {
  return rate >= 10_000 ? `${(rate / 1000).toFixed(1)}k` : rate.toFixed(0);
}

export function formatSeconds(s: number): string {
  const total = Math.round(s);
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const sec = total % 60;
  return h > 0 ? `${h}h${String(m).padStart(2, '0')}m` : m > 0 ? `${m}m${String(sec).padStart(2, '0')}s` : `${sec}s`;
}

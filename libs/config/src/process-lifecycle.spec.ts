import { getEventListeners } from 'node:events';
import { Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { abortableSleep, closeOnShutdown, shutdownSignal } from './process-lifecycle';

describe('abortable sleep', () => {
  it('leaves no abort listener behind when it ends, so a poll loop can pause forever without leaking', async () => {
    const controller = new AbortController();
    for (let i = 0; i < 20; i++) await abortableSleep(1, controller.signal);
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(0);
  });

  it('ends at once when the signal aborts', async () => {
    const controller = new AbortController();
    const pause = abortableSleep(60_000, controller.signal);
    controller.abort();
    await expect(pause).resolves.toBeUndefined();
    await expect(abortableSleep(60_000, controller.signal)).resolves.toBeUndefined();
  });
});

describe('shutdown signal', () => {
  it('aborts on the first signal, ignores a second one, and keeps listening until the process exits', () => {
    const before = process.listenerCount('SIGTERM');
    const existing = { SIGINT: process.listeners('SIGINT'), SIGTERM: process.listeners('SIGTERM') };
    const seen: string[] = [];
    const shutdown = shutdownSignal((signal) => seen.push(signal));
    process.emit('SIGINT', 'SIGINT');
    process.emit('SIGTERM', 'SIGTERM');
    shutdown.dispose();
    expect(seen).toEqual(['SIGINT']);
    expect(shutdown.signal.aborted).toBe(true);
    // Still there: a late SIGTERM during the clean shutdown must not kill the process.
    expect(process.listenerCount('SIGTERM')).toBe(before + 1);
    for (const signal of ['SIGINT', 'SIGTERM'] as const) {
      for (const listener of process.listeners(signal)) if (!existing[signal].includes(listener)) process.off(signal, listener);
    }
  });

  it('stops listening when disposed before any signal', () => {
    const before = process.listenerCount('SIGINT');
    shutdownSignal(() => undefined).dispose();
    expect(process.listenerCount('SIGINT')).toBe(before);
  });
});

describe('shutdown signal on a background failure', () => {
  it('aborts with the first failure kept, so the service stops and exits non-zero', () => {
    const shutdown = shutdownSignal(() => undefined);
    const first = new Error('queue missing');
    shutdown.fail(first);
    shutdown.fail(new Error('a later one'));
    expect(shutdown.signal.aborted).toBe(true);
    expect(shutdown.failure).toBe(first);
    shutdown.dispose();
  });
});

describe('closing backends on shutdown', () => {
  it('closes the backends in the order given when the Nest application closes, skipping those without close', async () => {
    const closed: string[] = [];
    const backend = (name: string) => ({ close: async () => void closed.push(name) });
    const HUB = Symbol('hub');
    const LAKE = Symbol('lake');
    const CLOCK = Symbol('clock');
    @Module({
      providers: [
        { provide: HUB, useValue: backend('hub') },
        { provide: LAKE, useValue: backend('lake') },
        { provide: CLOCK, useValue: { now: () => 0 } },
        closeOnShutdown(HUB, CLOCK, LAKE),
      ],
    })
    class Service {}
    const app = await NestFactory.createApplicationContext(Service, { logger: false });
    expect(closed).toEqual([]);
    await app.close();
    expect(closed).toEqual(['hub', 'lake']);
  });
});

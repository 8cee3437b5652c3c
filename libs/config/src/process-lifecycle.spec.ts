import { getEventListeners } from 'node:events';
import { abortableSleep } from './process-lifecycle';

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

import { waitFor } from './wait-for';

describe('waitFor', () => {
  it('returns the first value the probe produces', async () => {
    let calls = 0;
    const value = await waitFor(() => (++calls >= 3 ? `ready after ${calls}` : undefined), { timeoutMs: 5_000, intervalMs: 1, description: 'the third probe' });
    expect(value).toBe('ready after 3');
  });

  it('accepts falsy values other than undefined as an answer', async () => {
    await expect(waitFor(async () => 0, { timeoutMs: 100, intervalMs: 1, description: 'zero' })).resolves.toBe(0);
    await expect(waitFor(() => null, { timeoutMs: 100, intervalMs: 1, description: 'null' })).resolves.toBeNull();
  });

  it('fails with a message naming what it waited for once the time is up', async () => {
    await expect(waitFor(() => undefined, { timeoutMs: 30, intervalMs: 5, description: 'a message that never comes' })).rejects.toThrow(
      /Timed out after 30 ms \(\d+ attempts\) waiting for a message that never comes\./,
    );
  });

  it('passes on the error of a probe that throws', async () => {
    const probe = () => {
      throw new Error('probe broke');
    };
    await expect(waitFor(probe, { timeoutMs: 1_000, description: 'anything' })).rejects.toThrow('probe broke');
  });
});

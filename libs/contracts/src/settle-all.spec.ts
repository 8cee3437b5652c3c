import { settleAll } from './settle-all';

describe('settleAll', () => {
  it('gives every value, in task order', async () => {
    await expect(settleAll([Promise.resolve(1), new Promise<number>((resolve) => setTimeout(() => resolve(2), 5)), Promise.resolve(3)])).resolves.toEqual([1, 2, 3]);
  });

  it('throws the first failure in task order, only once every task has settled', async () => {
    let lateDone = false;
    const late = new Promise<number>((resolve) =>
      setTimeout(() => {
        lateDone = true;
        resolve(1);
      }, 10),
    );
    const later = new Promise<number>((_, reject) => setTimeout(() => reject(new Error('second')), 1));
    await expect(settleAll([late, Promise.reject(new Error('first')), later])).rejects.toThrow('first');
    expect(lateDone).toBe(true);
  });
});

import { describe, expect, it } from 'vitest';
import { SMALL_BATCH, StoreGate } from './store-gate.js';

const tick = () => new Promise((resolve) => setImmediate(resolve));

/** Runs that each hold their slot until finished by hand. */
function harness(gate: StoreGate) {
  const started: string[] = [];
  const finish = new Map<string, () => void>();
  const run = (name: string, size: number) =>
    gate.run(size, async () => {
      started.push(name);
      await new Promise<void>((resolve) => finish.set(name, resolve));
      return name;
    });
  return { started, run, finish: (name: string) => finish.get(name)!() };
}

describe('StoreGate', () => {
  it('lets `limit` through at once and the rest in arrival order as each finishes', async () => {
    const { started, run, finish } = harness(new StoreGate(2));
    const runs = ['a', 'b', 'c', 'd'].map((name) => run(name, 1000));
    await tick();
    expect(started).toEqual(['a', 'b']);
    finish('b');
    await tick();
    expect(started).toEqual(['a', 'b', 'c']);
    finish('a');
    finish('c');
    await tick();
    expect(started).toEqual(['a', 'b', 'c', 'd']);
    finish('d');
    expect(await Promise.all(runs)).toEqual(['a', 'b', 'c', 'd']);
  });

  it('lets small batches waiting go before large ones that came earlier', async () => {
    const { started, run, finish } = harness(new StoreGate(1));
    const runs = [run('busy', 1000), run('large', 1000), run('quiet', 1), run('small', SMALL_BATCH)];
    await tick();
    expect(started).toEqual(['busy']);
    for (const name of ['busy', 'quiet', 'small']) {
      finish(name);
      await tick();
    }
    expect(started).toEqual(['busy', 'quiet', 'small', 'large']);
    finish('large');
    await Promise.all(runs);
  });

  it('frees the slot of a failed run', async () => {
    const gate = new StoreGate(1);
    await expect(gate.run(1, () => Promise.reject(new Error('refused')))).rejects.toThrow('refused');
    expect(await gate.run(1, async () => 'next')).toBe('next');
  });
});

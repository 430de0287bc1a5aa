import { describe, expect, it } from 'vitest';
import { callSpan, configureTracing, span, tracingEnabled } from '../src/tracing/tracing.js';

describe('tracing', () => {
  it('is off by default: spans only run their work, and the carrier is never read', async () => {
    expect(tracingEnabled()).toBe(false);
    expect(await span('x', {}, async () => 7)).toBe(7);
    let read = false;
    const carrier = () => {
      read = true;
      return {};
    };
    expect(await callSpan('y', {}, carrier, async () => 'ok')).toBe('ok');
    expect(read).toBe(false);
    await expect(span('z', {}, () => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
  });

  it('stays off for an empty endpoint', async () => {
    await configureTracing({ endpoint: '', samplingRatePerMillion: 1_000_000, serviceVersion: 't' });
    expect(tracingEnabled()).toBe(false);
  });
});

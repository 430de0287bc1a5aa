import { describe, expect, it } from 'vitest';
import { parseJunit } from '../e2e/node-conformance/summary.js';

describe('node conformance junit reports', () => {
  it('reads passed, failed (with the message) and skipped specs', () => {
    const xml = `<?xml version="1.0"?>
<testsuite name="E2eNode Suite" tests="3" failures="1">
  <testcase name="[k8s.io] Pods should get a host IP [NodeConformance]" classname="E2eNode Suite" time="5.1"></testcase>
  <testcase name="[k8s.io] Probing a &quot;container&quot; [NodeConformance]" classname="E2eNode Suite" time="2">
    <failure type="Failure">timed out &lt;30s&gt;&#xA;second line</failure>
  </testcase>
  <testcase name="[k8s.io] GPU [Serial]" classname="E2eNode Suite" time="0"><skipped></skipped></testcase>
</testsuite>`;
    expect(parseJunit(xml)).toEqual([
      { name: '[k8s.io] Pods should get a host IP [NodeConformance]', outcome: 'passed', message: '' },
      { name: '[k8s.io] Probing a "container" [NodeConformance]', outcome: 'failed', message: 'timed out <30s>\nsecond line' },
      { name: '[k8s.io] GPU [Serial]', outcome: 'skipped', message: '' },
    ]);
  });
});

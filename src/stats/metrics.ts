/**
 * cAdvisor-style metrics for ListMetricDescriptors and
 * ListPodSandboxMetrics, derived from the same samples as the stats RPCs.
 * The groups berth reports are configurable (`stats.included_pod_metrics`).
 */

import type { MetricDescriptor } from '../generated/runtime/v1/MetricDescriptor.js';
import type { Metric } from '../generated/runtime/v1/Metric.js';
import type { PodSandboxMetrics } from '../generated/runtime/v1/PodSandboxMetrics.js';
import type { ContainerStats } from '../generated/runtime/v1/ContainerStats.js';
import type { PodSandboxStats } from '../generated/runtime/v1/PodSandboxStats.js';

export const METRIC_GROUPS = ['cpu', 'memory', 'network', 'disk', 'process'] as const;
export type MetricGroup = (typeof METRIC_GROUPS)[number];

interface MetricSpec {
  group: MetricGroup;
  name: string;
  help: string;
  labels: string[];
  type: 'COUNTER' | 'GAUGE';
}

const SPECS: MetricSpec[] = [
  { group: 'cpu', name: 'container_cpu_usage_seconds_total', help: 'Cumulative CPU time consumed in seconds.', labels: [], type: 'COUNTER' },
  { group: 'memory', name: 'container_memory_working_set_bytes', help: 'Current working set in bytes.', labels: [], type: 'GAUGE' },
  {
    group: 'memory',
    name: 'container_memory_usage_bytes',
    help: 'Current memory usage in bytes, including all memory regardless of when it was accessed.',
    labels: [],
    type: 'GAUGE',
  },
  { group: 'memory', name: 'container_memory_rss', help: 'Size of RSS in bytes.', labels: [], type: 'GAUGE' },
  { group: 'memory', name: 'container_memory_failures_total', help: 'Cumulative count of page faults.', labels: ['failure_type'], type: 'COUNTER' },
  { group: 'disk', name: 'container_fs_usage_bytes', help: "Bytes consumed by the container's writable layer.", labels: ['device'], type: 'GAUGE' },
  { group: 'disk', name: 'container_fs_inodes_total', help: "Inodes used by the container's writable layer.", labels: ['device'], type: 'GAUGE' },
  { group: 'network', name: 'container_network_receive_bytes_total', help: 'Cumulative count of bytes received.', labels: ['interface'], type: 'COUNTER' },
  { group: 'network', name: 'container_network_transmit_bytes_total', help: 'Cumulative count of bytes transmitted.', labels: ['interface'], type: 'COUNTER' },
  {
    group: 'network',
    name: 'container_network_receive_errors_total',
    help: 'Cumulative count of errors encountered while receiving.',
    labels: ['interface'],
    type: 'COUNTER',
  },
  {
    group: 'network',
    name: 'container_network_transmit_errors_total',
    help: 'Cumulative count of errors encountered while transmitting.',
    labels: ['interface'],
    type: 'COUNTER',
  },
  { group: 'process', name: 'container_processes', help: 'Number of processes running in the pod.', labels: [], type: 'GAUGE' },
];

export function metricDescriptors(groups: readonly string[]): MetricDescriptor[] {
  return SPECS.filter((s) => groups.includes(s.group)).map((s) => ({ name: s.name, help: s.help, labelKeys: s.labels }));
}

type Value = { value?: string | number | { toString(): string } } | null | undefined;
const v = (x: Value) => ({ value: String(x?.value ?? 0) });

function containerMetrics(groups: readonly string[], s: ContainerStats, ts: string, device: string): Metric[] {
  const out: Metric[] = [];
  const add = (group: MetricGroup, name: string, type: 'COUNTER' | 'GAUGE', value: { value: string }, labelValues: string[] = []) => {
    if (groups.includes(group)) out.push({ name, timestamp: ts, metricType: type, labelValues, value });
  };
  const cpuNs = Number(s.cpu?.usageCoreNanoSeconds?.value ?? 0);
  add('cpu', 'container_cpu_usage_seconds_total', 'COUNTER', { value: String(Math.floor(cpuNs / 1e9)) });
  add('memory', 'container_memory_working_set_bytes', 'GAUGE', v(s.memory?.workingSetBytes));
  add('memory', 'container_memory_usage_bytes', 'GAUGE', v(s.memory?.usageBytes));
  add('memory', 'container_memory_rss', 'GAUGE', v(s.memory?.rssBytes));
  add('memory', 'container_memory_failures_total', 'COUNTER', v(s.memory?.pageFaults), ['pgfault']);
  add('memory', 'container_memory_failures_total', 'COUNTER', v(s.memory?.majorPageFaults), ['pgmajfault']);
  add('disk', 'container_fs_usage_bytes', 'GAUGE', v(s.writableLayer?.usedBytes), [device]);
  add('disk', 'container_fs_inodes_total', 'GAUGE', v(s.writableLayer?.inodesUsed), [device]);
  return out;
}

export function podMetrics(groups: readonly string[], stats: PodSandboxStats, ts: string, device: string): PodSandboxMetrics {
  const metrics: Metric[] = [];
  const net = stats.linux?.network?.interfaces ?? [];
  if (groups.includes('network')) {
    for (const i of net) {
      metrics.push(
        { name: 'container_network_receive_bytes_total', timestamp: ts, metricType: 'COUNTER', labelValues: [i.name ?? ''], value: v(i.rxBytes) },
        { name: 'container_network_transmit_bytes_total', timestamp: ts, metricType: 'COUNTER', labelValues: [i.name ?? ''], value: v(i.txBytes) },
        { name: 'container_network_receive_errors_total', timestamp: ts, metricType: 'COUNTER', labelValues: [i.name ?? ''], value: v(i.rxErrors) },
        { name: 'container_network_transmit_errors_total', timestamp: ts, metricType: 'COUNTER', labelValues: [i.name ?? ''], value: v(i.txErrors) },
      );
    }
  }
  if (groups.includes('process'))
    metrics.push({ name: 'container_processes', timestamp: ts, metricType: 'GAUGE', labelValues: [], value: v(stats.linux?.process?.processCount) });
  return {
    podSandboxId: stats.attributes?.id ?? '',
    metrics,
    containerMetrics: (stats.linux?.containers ?? []).map((c) => ({ containerId: c.attributes?.id ?? '', metrics: containerMetrics(groups, c, ts, device) })),
  };
}

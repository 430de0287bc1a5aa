/**
 * Kubernetes objects the cluster tests apply more than once: a Deployment
 * or DaemonSet of one container that only sleeps, labelled app=<name>.
 */
export function sleepers(kind: 'Deployment' | 'DaemonSet', o: { name: string; namespace: string; image: string; seconds: number; replicas?: number }): object {
  return {
    apiVersion: 'apps/v1',
    kind,
    metadata: { name: o.name, namespace: o.namespace },
    spec: {
      ...(kind === 'Deployment' ? { replicas: o.replicas ?? 1 } : {}),
      selector: { matchLabels: { app: o.name } },
      template: {
        metadata: { labels: { app: o.name } },
        spec: { terminationGracePeriodSeconds: 1, containers: [{ name: o.name, image: o.image, command: ['sleep', String(o.seconds)] }] },
      },
    },
  };
}

/**
 * Answers the kubelet asks for every second (ListPodSandbox,
 * ListContainers, ContainerStatus), kept while what they are built from is
 * unchanged: a record store's generation for the lists, a record's status
 * object (replaced on every update) for a status. The message serializer
 * (server/proto.ts) keeps the encoded bytes of an answer object it has
 * already sent, so a kept answer is neither rebuilt nor encoded again.
 */
export class GenerationCache<T> {
  private readonly answers = new WeakMap<object, { generation: number; answer: T }>();

  /** The answer kept for `source` (a record store) at `generation`, built anew when that moved. */
  get(source: object, generation: number, build: () => T): T {
    let kept = this.answers.get(source);
    if (!kept || kept.generation !== generation) {
      kept = { generation, answer: build() };
      this.answers.set(source, kept);
    }
    return kept.answer;
  }
}

export class IdentityCache<K extends object, T> {
  private readonly answers = new WeakMap<K, T>();

  get(key: K, build: () => T): T {
    let answer = this.answers.get(key);
    if (answer === undefined) {
      answer = build();
      this.answers.set(key, answer);
    }
    return answer;
  }
}

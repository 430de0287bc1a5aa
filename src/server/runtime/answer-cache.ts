/**
 * Answers the kubelet asks for every second (ListPodSandbox,
 * ListContainers, ContainerStatus), kept while what they are built from is
 * unchanged: a record store's generation for the lists, a record's status
 * object (replaced on every update) for a status. The message serializer
 * (server/proto.ts) keeps the encoded bytes of an answer object it has
 * already sent, so a kept answer is neither rebuilt nor encoded again.
 */
export class GenerationCache<T> {
  private generation = -1;
  private answer: T | undefined;

  get(generation: number, build: () => T): T {
    if (this.answer === undefined || generation !== this.generation) {
      this.answer = build();
      this.generation = generation;
    }
    return this.answer;
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

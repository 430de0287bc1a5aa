import type { Logger } from '../log.js';

/**
 * A LIFO stack of undo steps for multi-step creates. Each step that made
 * something pushes how to unmake it; on failure the stack runs in reverse,
 * every step even if an earlier one fails, and reports whether all of it
 * was undone.
 */
export class CleanupStack {
  private readonly steps: { what: string; undo: () => Promise<void> }[] = [];

  constructor(private readonly log: Logger) {}

  push(what: string, undo: () => Promise<void>): void {
    this.steps.push({ what, undo });
  }

  /** Forgets the steps: the create succeeded. */
  commit(): void {
    this.steps.length = 0;
  }

  /** Undoes everything in reverse order; true when every step succeeded. */
  async unwind(): Promise<boolean> {
    let clean = true;
    while (this.steps.length > 0) {
      const step = this.steps.pop()!;
      try {
        await step.undo();
      } catch (err) {
        clean = false;
        this.log.error({ err, step: step.what }, `cleanup step failed: ${step.what}`);
      }
    }
    return clean;
  }
}

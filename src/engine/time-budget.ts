/**
 * A training time budget (`--time M`, Ultralytics' `time`): wall time since training started,
 * everything included (steps, validation, checkpoints, plots), as Ultralytics measures it. The
 * epochs are planned from the mean epoch so far so the schedule ends when the budget does, and a
 * run that still overshoots stops mid-epoch. Seconds spent carry across resume.
 */
export class TimeBudget {
  readonly #start: number;
  readonly #before: number;
  readonly #now: () => number;

  /** `now` gives seconds (a test passes its own clock). */
  constructor(readonly seconds: number, spentBefore = 0, now: () => number = () => performance.now() / 1000) {
    this.#now = now;
    this.#start = now();
    this.#before = spentBefore;
  }

  /** Seconds spent so far, earlier sessions of a resumed run included. */
  get spent(): number {
    return this.#before + (this.#now() - this.#start);
  }

  exceeded(): boolean {
    return this.spent >= this.seconds;
  }

  /**
   * The total epochs that fit the budget once `completed` epochs are done: the remaining time
   * over the mean epoch so far, rounded (the mid-epoch stop catches an overshoot); never fewer
   * than `completed`, which ends the run.
   */
  plan(completed: number): number {
    const spent = this.spent;
    const mean = spent / Math.max(completed, 1);
    return completed + Math.max(0, Math.round((this.seconds - spent) / Math.max(mean, 1e-9)));
  }
}

/**
 * A training time budget (`--time M`, Ultralytics' `time`): the epochs are planned from the
 * measured time per epoch (validation included) so the schedule ends when the budget does, and a
 * run that still overshoots stops mid-epoch. Seconds spent carry across resume.
 */
export class TimeBudget {
  #spent: number;
  #epochs = 0;

  constructor(readonly seconds: number, spentBefore = 0) {
    this.#spent = spentBefore;
  }

  /** Seconds spent in completed epochs. */
  get spent(): number {
    return this.#spent;
  }

  /** Seconds spent including `current` seconds of the epoch under way. */
  spentBefore(current: number): number {
    return this.#spent + current;
  }

  exceeded(current: number): boolean {
    return this.#spent + current >= this.seconds;
  }

  endEpoch(seconds: number): void {
    this.#spent += seconds;
    this.#epochs++;
  }

  /**
   * The total epochs that fit the budget once `completed` epochs are done: the remaining time
   * over the mean epoch so far, rounded (the mid-epoch stop catches an overshoot); never fewer
   * than `completed`, which ends the run.
   */
  plan(completed: number): number {
    const mean = this.#spent / Math.max(completed, 1);
    const left = this.seconds - this.#spent;
    return completed + Math.max(0, Math.round(left / Math.max(mean, 1e-9)));
  }
}

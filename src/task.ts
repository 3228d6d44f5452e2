/**
 * The recognition tasks Kestrel knows. A leaf module (it imports nothing), so every layer — models,
 * checkpoints, the ONNX deploy contract, the server — can name a task without reaching upward.
 */
export const TASKS = ['classify', 'detect', 'segment'] as const;

export type TaskName = (typeof TASKS)[number];

export function isTaskName(name: string): name is TaskName {
  return (TASKS as readonly string[]).includes(name);
}

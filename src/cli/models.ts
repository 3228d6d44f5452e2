/** `kestrel models`: the model zoo, by task. */
import { Option, type Command } from 'commander';
import { TASKS, type TaskName } from '../task.js';

export function registerModels(program: Command): void {
  program
    .command('models')
    .description('list the models train --model accepts')
    .addOption(new Option('--task <task>', 'only the models of this task').choices([...TASKS]))
    .option('--json', 'one JSON object per model')
    .action(async (o: { json?: boolean; task?: TaskName }) => {
      const { listModels } = await import('../models/registry.js');
      const models = listModels(o.task);
      if (models.length === 0 && !o.json) process.stdout.write(`no ${o.task} models yet\n`);
      const nameWidth = Math.max(20, ...models.map((m) => m.name.length + 1));
      for (const m of models) {
        // Detectors carry Ultralytics' size columns (80 classes, 640 px), segmentation models
        // torchvision's (21 classes, at their design size): what the references' tables quote.
        const size = m.params === undefined || m.gflops === undefined ? '' : `${(m.params / 1e6).toFixed(1).padStart(5)}M params ${m.gflops.toFixed(1).padStart(6)} GFLOPs  `;
        process.stdout.write(o.json ? `${JSON.stringify(m)}\n` : `${m.name.padEnd(nameWidth)} ${m.task.padEnd(9)} ${String(m.defaultImgsz).padStart(4)} px  ${size}${m.description}\n`);
      }
    });
}

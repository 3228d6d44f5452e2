/** `kestrel models`: the model zoo. */
import type { Command } from 'commander';

export function registerModels(program: Command): void {
  program
    .command('models')
    .description('list the models train --model accepts')
    .option('--json', 'one JSON object per model')
    .action(async (o: { json?: boolean }) => {
      const { listModels } = await import('../models/registry.js');
      for (const m of listModels()) {
        process.stdout.write(o.json ? `${JSON.stringify(m)}\n` : `${m.name.padEnd(20)} ${String(m.defaultImgsz).padStart(4)} px  ${m.description}\n`);
      }
    });
}

/** A progress bar on a terminal; silent otherwise (the final line says the counts). */
export function progressBar(total: number, unit: string, stream: NodeJS.WriteStream = process.stderr) {
  const tty = stream.isTTY === true;
  let last = 0;
  return {
    update: (n: number) => {
      if (!tty || Date.now() - last < 100) return;
      last = Date.now();
      const width = 30;
      const filled = total ? Math.round((n / total) * width) : width;
      stream.write(`\r[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${n}/${total} ${unit}`);
    },
    done: () => {
      if (tty) stream.write('\n');
    },
  };
}

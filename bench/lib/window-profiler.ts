// A V8 CPU profile of one measured window (not the process's start-up),
// taken through the inspector of the server process itself.
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector';
import { join } from 'node:path';

export class WindowProfiler {
  private readonly dir_: string | undefined;
  private readonly name_: string;
  private session_: Session | undefined;
  private count_ = 0;

  constructor(dir: string | undefined, name: string) {
    this.dir_ = dir;
    this.name_ = name;
  }

  private post(method: string, params?: object): Promise<unknown> {
    return new Promise((resolve, reject) =>
      this.session_!.post(method, params ?? {}, (err, result) => (err ? reject(err) : resolve(result))),
    );
  }

  async start(): Promise<void> {
    if (!this.dir_) throw new Error('no BENCH_CPU_PROF_DIR: profiling is off');
    if (!this.session_) {
      this.session_ = new Session();
      this.session_.connect();
      await this.post('Profiler.enable');
      // 250 µs: fine enough for a 1–5 s window, cheap enough not to distort it much.
      await this.post('Profiler.setSamplingInterval', { interval: 250 });
    }
    await this.post('Profiler.start');
  }

  async stop(): Promise<void> {
    if (!this.session_ || !this.dir_) throw new Error('profiling was not started');
    const { profile } = (await this.post('Profiler.stop')) as { profile: unknown };
    writeFileSync(join(this.dir_, `${this.name_}-${++this.count_}.cpuprofile`), JSON.stringify(profile));
  }
}

/**
 * The live captures of a running agent: one libpcap session and one frame pipeline per watched
 * interface, each interface its own layer-2 segment with its own binding table. The set follows
 * what the collector says (discovery off closes every capture, on reopens them; a new refresh
 * interval and the addresses it watches apply to every table) without a restart. An interface's pipeline outlives its
 * captures, so hosts known before discovery was switched off are not reported as new again.
 */
import type { AgentConfig as CollectorConfig, SightingItem, Watch } from '@ipwarden/protocol';
import { FramePipeline } from './frame-pipeline.js';
import { type LiveCapture, openLiveCapture } from './live-capture.js';

export interface CaptureTotals {
  /** Frames captured, on every interface, since the agent started. */
  captured: number;
  /** Frames the kernel dropped for lack of buffer. */
  kernelDrops: number;
  /** Frames the decoders found malformed. */
  decodeErrors: number;
}

export interface CaptureSetOptions {
  /** The interfaces to capture on, until the collector names others. */
  interfaces: readonly string[];
  /** Where each sighting goes, with the interface it was seen on. */
  submit: (item: SightingItem) => void;
  log: (message: string) => void;
  refreshSeconds: number;
  /** Bindings each interface's table remembers at most. */
  maxBindings: number;
  /** The one function that opens pcap; another in tests. */
  open?: typeof openLiveCapture;
}

export class CaptureSet {
  /** Open captures, by interface. */
  private readonly watched = new Map<string, LiveCapture>();
  /** Every interface's pipeline since the start, open or not. */
  private readonly pipelines = new Map<string, FramePipeline>();
  /** Kernel drops counted by captures since closed. */
  private closedKernelDrops = 0;
  private refreshSeconds: number;
  /** The addresses the collector watches (none until it names some). */
  private watch: Watch | undefined;
  private discovery = true;
  private wantedNames: readonly string[];

  constructor(private readonly options: CaptureSetOptions) {
    this.refreshSeconds = options.refreshSeconds;
    this.wantedNames = options.interfaces;
  }

  /** Interfaces captured on now. */
  get names(): string[] {
    return [...this.watched.keys()];
  }

  /** Interfaces the agent watches while discovery is on: what hello reports. */
  get wanted(): readonly string[] {
    return this.wantedNames;
  }

  /** Opens every capture; one that cannot be opened is an error, and none is left open. */
  start(): void {
    try {
      this.sync(true);
    } catch (error) {
      this.closeAll();
      throw error;
    }
  }

  /**
   * The collector's configuration, whole or a change: discovery off closes every capture and
   * on reopens them; an interface list, when the collector sends one, replaces the local one;
   * a new refresh interval applies to every binding table, keeping what they know, and so does
   * a watch list, which replaces the last (`whole`: the welcome's configuration, in which no
   * watch list means none).
   */
  configure(change: Partial<CollectorConfig>, whole = false): void {
    const { log } = this.options;
    if (change.refreshSeconds !== undefined && change.refreshSeconds !== this.refreshSeconds) {
      log(`refresh interval ${change.refreshSeconds} s, from the collector`);
      this.refreshSeconds = change.refreshSeconds;
      for (const pipeline of this.pipelines.values()) pipeline.table.setRefreshMs(change.refreshSeconds * 1000);
    }
    if (change.watch !== undefined || (whole && this.watch !== undefined)) {
      const watch = change.watch;
      const count = watch?.addresses.length ?? 0;
      if (count > 0 || (this.watch?.addresses.length ?? 0) > 0) {
        log(
          `watching ${count} address${count === 1 ? '' : 'es'} every ${watch?.refreshSeconds ?? '-'} s, from the collector`,
        );
      }
      this.watch = watch;
      for (const pipeline of this.pipelines.values()) applyWatch(pipeline, watch);
    }
    if (change.interfaces !== undefined && change.interfaces.length > 0) {
      const names = [...new Set(change.interfaces)];
      if (names.join() !== this.wantedNames.join()) log(`interfaces ${names.join(', ')}, from the collector`);
      this.wantedNames = names;
    }
    if (change.discovery !== undefined && change.discovery !== this.discovery) {
      this.discovery = change.discovery;
      log(`discovery ${this.discovery ? 'on' : 'off'}, from the collector`);
    }
    this.sync(false);
  }

  /**
   * Captures on exactly the interfaces wanted (none with discovery off): closes the others,
   * opens the missing ones. With `strict` a capture that cannot be opened is an error;
   * otherwise it is logged and the others go on.
   */
  private sync(strict: boolean): void {
    const names = this.discovery ? this.wantedNames : [];
    for (const name of this.names) if (!names.includes(name)) this.close(name);
    for (const name of names) {
      if (this.watched.has(name)) continue;
      try {
        this.open(name);
      } catch (error) {
        if (strict) throw error;
        this.options.log(`cannot capture on ${name}: ${(error as Error).message}`);
      }
    }
  }

  totals(): CaptureTotals {
    const totals = { captured: 0, kernelDrops: this.closedKernelDrops, decodeErrors: 0 };
    for (const pipeline of this.pipelines.values()) {
      totals.captured += pipeline.stats.frames;
      totals.decodeErrors += pipeline.stats.malformed;
    }
    for (const capture of this.watched.values()) totals.kernelDrops += capture.counters().kernelDrops;
    return totals;
  }

  closeAll(): void {
    for (const name of this.names) this.close(name);
  }

  private pipeline(name: string): FramePipeline {
    let pipeline = this.pipelines.get(name);
    if (pipeline === undefined) {
      pipeline = new FramePipeline((sighting) => this.options.submit({ ...sighting, interface: name }), {
        refreshMs: this.refreshSeconds * 1000,
        maxEntries: this.options.maxBindings,
      });
      if (this.watch !== undefined) applyWatch(pipeline, this.watch);
      this.pipelines.set(name, pipeline);
    }
    return pipeline;
  }

  private open(name: string): void {
    const pipeline = this.pipeline(name);
    const capture = (this.options.open ?? openLiveCapture)(name, (linkType, bytes, offset, length, at) =>
      pipeline.push(linkType, bytes, offset, length, at),
    );
    this.watched.set(name, capture);
    this.options.log(`capture opened on ${name}`);
  }

  private close(name: string): void {
    const capture = this.watched.get(name)!;
    this.closedKernelDrops += capture.counters().kernelDrops;
    capture.close();
    this.watched.delete(name);
    this.options.log(`capture closed on ${name}`);
  }
}

/** The collector's watch list (none: undefined) applied to one pipeline's binding table. */
export function applyWatch(pipeline: FramePipeline, watch: Watch | undefined): void {
  pipeline.table.setWatch((watch?.refreshSeconds ?? 1) * 1000, watch?.addresses ?? []);
}

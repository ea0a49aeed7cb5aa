/** What every page does: load from the API, show the error, and load again on live events. */
import { useCallback, useEffect, useRef, useState } from 'preact/hooks';
import { useSession } from './session.js';

export interface Loaded<T> {
  data: T | undefined;
  error: string | undefined;
  loading: boolean;
  reload: () => void;
}

/**
 * Runs `load` now, whenever `deps` change, and (a quarter second after the first of a burst) when an event whose
 * type starts with one of `live` arrives; `everyMs` also reloads on a timer, for what has no
 * event (capture counters).
 */
export function useLoad<T>(
  load: () => Promise<T>,
  deps: unknown[],
  options: { live?: readonly string[]; everyMs?: number } = {},
): Loaded<T> {
  const { live } = useSession();
  const [data, setData] = useState<T | undefined>(undefined);
  const [error, setError] = useState<string | undefined>(undefined);
  const [loading, setLoading] = useState(true);
  const generation = useRef(0);
  const reload = useCallback(() => {
    const mine = ++generation.current;
    setLoading(true);
    load().then(
      (value) => {
        if (mine !== generation.current) return; // an older answer arriving late
        setData(value);
        setError(undefined);
        setLoading(false);
      },
      (failure: unknown) => {
        if (mine !== generation.current) return;
        setError(failure instanceof Error ? failure.message : String(failure));
        setLoading(false);
      },
    );
  }, deps);

  useEffect(() => reload(), [reload]);

  useEffect(() => {
    if (options.live === undefined) return;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const off = live.on(options.live, () => {
      timer ??= setTimeout(() => {
        timer = undefined;
        reload();
      }, 250);
    });
    return () => {
      off();
      if (timer !== undefined) clearTimeout(timer);
    };
  }, [live, reload, options.live?.join(',')]);

  useEffect(() => {
    if (options.everyMs === undefined) return;
    const timer = setInterval(reload, options.everyMs);
    return () => clearInterval(timer);
  }, [reload, options.everyMs]);

  return { data, error, loading, reload };
}

/** The element's width, followed as the window resizes. */
export function useWidth<E extends HTMLElement>(): [ref: { current: E | null }, width: number] {
  const ref = useRef<E>(null);
  const [width, setWidth] = useState(0);
  useEffect(() => {
    if (ref.current === null) return;
    const observer = new ResizeObserver(([entry]) => setWidth(Math.floor(entry!.contentRect.width)));
    observer.observe(ref.current);
    return () => observer.disconnect();
  }, []);
  return [ref, width];
}

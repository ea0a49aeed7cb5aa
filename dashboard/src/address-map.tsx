/**
 * A subnet's address map on one canvas: a cell per address of an IPv4 subnet up to /16, or a
 * cell per summary block otherwise (GET /subnets/{subnet}/map). 65,536 DOM cells take most of a
 * second to lay out; one canvas draws them in milliseconds. Each draw is measured
 * (`performance.measure('ipwarden:map-draw')`) and its time kept on the canvas
 * (`data-draw-ms`), so the browser tests can hold it to its target.
 *
 * Hover says why a cell looks as it does; a click, or Enter on the keyboard cursor (arrow
 * keys move it), opens the address.
 */
import { useEffect, useMemo, useRef, useState } from 'preact/hooks';
import type { AddressMap, MapBlock } from './api.js';
import { count } from './format.js';

export interface Cell {
  state: string;
  /** 0 never seen, 1 within the observation window, 2 before it. */
  seen: 0 | 1 | 2;
  conflict: boolean;
}

/** What a cell is drawn as, and the legend's words for it. */
export const LOOKS = {
  free: ['#dfe5ea', 'free'],
  infrastructure: ['#66727f', 'network, broadcast, gateway, DNS'],
  dynamic: ['#a9cdf0', 'dynamic range'],
  'reserved-range': ['#d5c6ee', 'reserved range'],
  reserved: ['#7e57c2', 'reserved'],
  device: ['#1e6fd9', 'device'],
  sticky: ['#00897b', 'sticky'],
  auto: ['#3d9a40', 'auto'],
  extra: ['#84b342', 'extra'],
  claim: ['#e0a100', 'claim'],
  seen: ['#f57c00', 'seen, not allocated'],
  stale: ['#b89b7a', 'last seen long ago'],
  conflict: ['#d32f2f', 'in conflict'],
} as const satisfies Record<string, readonly [string, string]>;
type Look = keyof typeof LOOKS;

export function lookOf(cell: Cell): Look {
  if (cell.conflict) return 'conflict';
  switch (cell.state) {
    case 'network':
    case 'broadcast':
    case 'gateway':
    case 'dns':
      return 'infrastructure';
    case 'free':
    case 'dynamic':
    case 'reserved-range':
      // A DHCP client in its dynamic range is what the range is for: the range's colour stays.
      if (cell.state !== 'dynamic' && cell.seen === 1) return 'seen';
      if (cell.state === 'free' && cell.seen === 2) return 'stale';
      return cell.state;
    default:
      return cell.state in LOOKS ? (cell.state as Look) : 'free';
  }
}

/** Why a cell looks as it does, in words. */
export function describeCell(cell: Cell): string {
  const parts = [cell.state === 'reserved-range' ? 'in a reserved range' : cell.state];
  if (cell.seen === 1) parts.push('seen within the observation window');
  if (cell.seen === 2) parts.push('last seen long ago');
  if (
    cell.state !== 'free' &&
    cell.seen === 0 &&
    !['network', 'broadcast', 'dynamic', 'reserved-range'].includes(cell.state)
  )
    parts.push('never seen');
  if (cell.conflict) parts.push('in conflict');
  return parts.join(', ');
}

const rgb = (hex: string) => [1, 3, 5].map((i) => Number.parseInt(hex.slice(i, i + 2), 16)) as [number, number, number];

export function ipv4(text: string): number {
  return text.split('.').reduce((n, part) => n * 256 + Number(part), 0);
}
export function ipv4Text(n: number): string {
  return [24, 16, 8, 0].map((shift) => Math.floor(n / 2 ** shift) % 256).join('.');
}

interface Grid {
  /** How long reading the map's bytes into cells took. */
  decodeMs?: number;
  count: number;
  columns: number;
  cellAt: (i: number) => Cell;
  looks: Look[];
}

function gridOf(map: AddressMap): Grid {
  if (map.cells !== undefined) {
    const binary = atob(map.cells);
    const bytes = new Uint8Array(binary.length);
    for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
    const cellAt = (i: number): Cell => {
      const byte = bytes[i]!;
      return {
        state: map.states[byte & 0x0f] ?? 'free',
        seen: ((byte >> 4) & 3) as Cell['seen'],
        conflict: (byte & 0x40) !== 0,
      };
    };
    // Looks depend only on the byte: 128 possible values, worked out once each.
    const byByte = new Map<number, Look>();
    const looks = new Array<Look>(bytes.length);
    for (let i = 0; i < bytes.length; i++) {
      const byte = bytes[i]!;
      let look = byByte.get(byte);
      if (look === undefined) {
        look = lookOf(cellAt(i));
        byByte.set(byte, look);
      }
      looks[i] = look;
    }
    return { count: bytes.length, columns: 2 ** Math.ceil(Math.log2(bytes.length) / 2), cellAt, looks };
  }
  const blocks = map.blocks ?? [];
  const cellAt = (i: number): Cell => blockCell(blocks[i]!);
  return { count: blocks.length, columns: 16, cellAt, looks: blocks.map((_, i) => lookOf(cellAt(i))) };
}

/** A summary block drawn as the most telling thing in it. */
function blockCell(block: MapBlock): Cell {
  const state =
    block.allocated > 0 ? 'device' : block.dynamic > 0 ? 'dynamic' : block.reserved > 0 ? 'reserved-range' : 'free';
  return { state, seen: block.seenUnallocated > 0 ? 1 : block.seenBefore > 0 ? 2 : 0, conflict: block.conflicts > 0 };
}

export interface HoverInfo {
  index: number;
  ip: string;
  cell: Cell;
  block?: MapBlock;
  x: number;
  y: number;
}

export function AddressMapView(props: {
  map: AddressMap;
  width: number;
  onHover: (info: HoverInfo | null) => void;
  onSelect: (ip: string, block?: MapBlock) => void;
}) {
  const { map, width, onHover, onSelect } = props;
  const canvas = useRef<HTMLCanvasElement>(null);
  const grid = useMemo(() => {
    const start = performance.now();
    const made = gridOf(map);
    made.decodeMs = performance.now() - start;
    return made;
  }, [map]);
  const [cursor, setCursor] = useState<number | null>(null);
  const rows = Math.ceil(grid.count / grid.columns);
  const cell = Math.max(1, Math.min(28, Math.floor(width / grid.columns)));
  const gap = cell >= 6 ? 1 : 0;

  const ipAt = (i: number) =>
    map.cells !== undefined ? ipv4Text(ipv4(map.first) + i) : (map.blocks?.[i]?.first ?? map.first);

  useEffect(() => {
    const element = canvas.current;
    if (element === null) return;
    const start = performance.now();
    draw(element, grid, cell, gap, cursor);
    const ms = performance.now() - start;
    performance.measure('ipwarden:map-draw', { start, duration: ms });
    element.dataset.drawMs = ms.toFixed(2);
    element.dataset.decodeMs = (grid.decodeMs ?? 0).toFixed(2);
  }, [grid, cell, gap, cursor]);

  const indexAt = (event: MouseEvent) => {
    const rect = (event.currentTarget as HTMLCanvasElement).getBoundingClientRect();
    const column = Math.floor((event.clientX - rect.left) / cell);
    const row = Math.floor((event.clientY - rect.top) / cell);
    const index = row * grid.columns + column;
    return column >= 0 && column < grid.columns && index >= 0 && index < grid.count ? index : undefined;
  };
  const hover = (index: number, x: number, y: number) =>
    onHover({
      index,
      ip: ipAt(index),
      cell: grid.cellAt(index),
      x,
      y,
      ...(map.blocks && { block: map.blocks[index] }),
    });

  return (
    <canvas
      ref={canvas}
      class="address-map"
      width={grid.columns * cell}
      height={rows * cell}
      tabIndex={0}
      role="img"
      aria-label={`address map of ${map.cidr}: ${count(grid.count)} cells; arrow keys move, Enter opens`}
      onMouseMove={(event) => {
        const index = indexAt(event);
        if (index === undefined) onHover(null);
        else hover(index, event.clientX, event.clientY);
      }}
      onMouseLeave={() => onHover(null)}
      onClick={(event) => {
        const index = indexAt(event);
        if (index !== undefined) onSelect(ipAt(index), map.blocks?.[index]);
      }}
      onKeyDown={(event) => {
        const moves: Record<string, number> = {
          ArrowLeft: -1,
          ArrowRight: 1,
          ArrowUp: -grid.columns,
          ArrowDown: grid.columns,
        };
        if (event.key in moves) {
          event.preventDefault();
          const next = Math.max(0, Math.min(grid.count - 1, (cursor ?? -moves[event.key]!) + moves[event.key]!));
          setCursor(next);
          const rect = (event.currentTarget as HTMLCanvasElement).getBoundingClientRect();
          hover(
            next,
            rect.left + (next % grid.columns) * cell + cell,
            rect.top + Math.floor(next / grid.columns) * cell + cell,
          );
        } else if (event.key === 'Enter' && cursor !== null) {
          onSelect(ipAt(cursor), map.blocks?.[cursor]);
        } else if (event.key === 'Escape') {
          setCursor(null);
          onHover(null);
        }
      }}
      onBlur={() => onHover(null)}
    />
  );
}

function draw(element: HTMLCanvasElement, grid: Grid, cell: number, gap: number, cursor: number | null): void {
  const context = element.getContext('2d');
  if (context === null) return;
  const rows = Math.ceil(grid.count / grid.columns);
  if (gap === 0) {
    // Small cells: one pixel per address in an image, scaled up without smoothing.
    const image = new ImageData(grid.columns, rows);
    const pixels = new Uint32Array(image.data.buffer);
    const packed = new Map<Look, number>();
    for (const look of Object.keys(LOOKS) as Look[]) {
      const [r, g, b] = rgb(LOOKS[look][0]);
      packed.set(look, (255 << 24) | (b << 16) | (g << 8) | r); // little-endian RGBA
    }
    for (let i = 0; i < grid.count; i++) pixels[i] = packed.get(grid.looks[i]!)!;
    if (cell === 1) context.putImageData(image, 0, 0);
    else {
      const scratch = new OffscreenCanvas(grid.columns, rows);
      scratch.getContext('2d')!.putImageData(image, 0, 0);
      context.imageSmoothingEnabled = false;
      context.clearRect(0, 0, element.width, element.height);
      context.drawImage(scratch, 0, 0, grid.columns * cell, rows * cell);
    }
  } else {
    context.clearRect(0, 0, element.width, element.height);
    for (let i = 0; i < grid.count; i++) {
      context.fillStyle = LOOKS[grid.looks[i]!][0];
      context.fillRect((i % grid.columns) * cell, Math.floor(i / grid.columns) * cell, cell - gap, cell - gap);
    }
  }
  if (cursor !== null) {
    context.strokeStyle = '#111';
    context.lineWidth = 2;
    context.strokeRect((cursor % grid.columns) * cell, Math.floor(cursor / grid.columns) * cell, cell, cell);
  }
}

import { clock, describeEvent, type TitleOf } from "../lib/console/format.ts";
import type { ConsoleEvent } from "../lib/console/run_state.ts";

/** Props of {@link EventRow}. */
export interface EventRowProps {
  /** The event to show. */
  event: ConsoleEvent;
  /** Step titles for the text. */
  titleOf: TitleOf;
}

/** The inside of one event-log row: time, type and a sentence. */
export function EventRow({ event, titleOf }: EventRowProps) {
  const ts = event.data.ts;
  return (
    <>
      <time class="ev-time" dateTime={typeof ts === "string" ? ts : undefined}>{clock(ts)}</time>
      <code class="ev-type">{event.type}</code>
      <span class="ev-text">{describeEvent(event, titleOf)}</span>
    </>
  );
}

import { useState } from "preact/hooks";
import type { Attr } from "../api";
import { isSpanID, isTraceID } from "../api";
import { fmtDuration, serviceColor } from "../format";
import { highlight } from "../highlight";
import { selfTime, type TraceModel } from "./model";

interface Props {
  model: TraceModel;
  i: number;
  onClose: () => void;
  onSelect: (i: number) => void;
  onZoom: () => void;
  /** query is the in-trace search text, marked in keys and values. */
  query: string;
}

function CopyButton({ text, label }: { text: string; label: string }) {
  const [done, setDone] = useState(false);
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(text);
      setDone(true);
      setTimeout(() => setDone(false), 1200);
    } catch {
      setDone(false);
    }
  };
  return (
    <button type="button" class="copy" onClick={copy} aria-label={`Copy ${label}`}>
      {done ? "Copied" : "Copy"}
    </button>
  );
}

function AttrTable({ attrs, dropped, q = "" }: { attrs: Attr[]; dropped?: number; q?: string }) {
  if (!attrs.length && !dropped) return <p class="muted">None.</p>;
  return (
    <table class="attrs">
      <tbody>
        {attrs.map((a) =>
          a.value.includes("\n") ? (
            // Multi-line values (stack traces) get the panel's whole width.
            <>
              <tr class="multiline-key">
                <th scope="row" colSpan={2}>
                  {highlight(a.key, q)}
                </th>
                <td class="type">{a.type}</td>
              </tr>
              <tr class="multiline">
                <td colSpan={3}>
                  <pre>{a.value}</pre>
                </td>
              </tr>
            </>
          ) : (
            <tr>
              <th scope="row">{highlight(a.key, q)}</th>
              <td>
                <span class="val">{highlight(a.value, q)}</span>
              </td>
              <td class="type">{a.type}</td>
            </tr>
          ),
        )}
        {dropped ? (
          <tr>
            <td colSpan={3} class="muted">
              {dropped} attribute(s) dropped by the sender or by Clew's limits
            </td>
          </tr>
        ) : null}
      </tbody>
    </table>
  );
}

/** SpanDetails shows everything stored about one span. All values render as text. */
export function SpanDetails({ model, i, onClose, onSelect, onZoom, query }: Props) {
  const s = model.spans[i];
  const trace = model.trace;
  const res = trace.resources[s.resource];
  const scope = s.scope >= 0 ? trace.scopes[s.scope] : null;
  const parent = model.parent[i];
  const svc = model.service[i];
  const byID = (id: string) => model.spans.findIndex((x) => x.spanID === id);
  return (
    <aside class="details" aria-label="Span details">
      <div class="details-head">
        <h2>
          <span class="svc-dot" style={{ background: serviceColor(svc) }} />
          {s.name}
        </h2>
        <button type="button" class="similar" onClick={onZoom} title="Show only this span's time range (z)">
          Zoom
        </button>
        <a
          class="button similar"
          href={`/search?${new URLSearchParams({ service: svc, operation: s.name, lookback: "1h" })}`}
          title="Search the last hour for traces with this service and operation"
        >
          Similar traces
        </a>
        <button type="button" class="close" onClick={onClose} aria-label="Close span details">
          ✕
        </button>
      </div>
      <dl class="facts">
        <dt>Service</dt>
        <dd>{svc}</dd>
        <dt>Duration</dt>
        <dd>
          {fmtDuration(s.durationNano)}
          {model.size[i] > 1 && <span class="muted"> ({fmtDuration(selfTime(model, i))} self, outside its children)</span>}
        </dd>
        <dt>Start</dt>
        <dd>+{fmtDuration(s.startNano)} into the trace</dd>
        <dt>Kind</dt>
        <dd>{s.kind}</dd>
        <dt>Status</dt>
        <dd class={s.status.code === "error" ? "err" : ""}>
          {s.status.code}
          {s.status.message && <>: {s.status.message}</>}
        </dd>
        <dt>Span ID</dt>
        <dd>
          <code>{s.spanID}</code> <CopyButton key={s.spanID} text={s.spanID} label="span ID" />
        </dd>
        <dt>Trace ID</dt>
        <dd>
          <code>{trace.traceID}</code> <CopyButton text={trace.traceID} label="trace ID" />
        </dd>
        <dt>Parent</dt>
        <dd>
          {parent >= 0 ? (
            <button type="button" class="linkish" onClick={() => onSelect(parent)}>
              {model.spans[parent].name} ({model.spans[parent].spanID})
            </button>
          ) : s.parentSpanID ? (
            <span class="warn-text">
              <code>{s.parentSpanID}</code> — not in this trace
            </span>
          ) : (
            "none (root span)"
          )}
        </dd>
        {s.traceState && (
          <>
            <dt>Trace state</dt>
            <dd>
              <code>{s.traceState}</code>
            </dd>
          </>
        )}
      </dl>

      <h3>Attributes</h3>
      <AttrTable attrs={s.attributes} dropped={s.droppedAttributesCount} q={query} />

      <h3>Events {s.events.length > 0 && <span class="muted">({s.events.length})</span>}</h3>
      {s.events.length === 0 && !s.droppedEventsCount ? (
        <p class="muted">None.</p>
      ) : (
        <ol class="events">
          {s.events.map((e) => (
            <li class={e.name === "exception" ? "exception" : ""}>
              <div class="event-head">
                <span class="offset">+{fmtDuration(e.offsetNano)}</span> <b>{e.name}</b>
              </div>
              <AttrTable attrs={e.attributes} dropped={e.droppedAttributesCount} q={query} />
            </li>
          ))}
          {s.droppedEventsCount > 0 && <li class="muted">{s.droppedEventsCount} event(s) dropped</li>}
        </ol>
      )}

      <h3>Links {s.links.length > 0 && <span class="muted">({s.links.length})</span>}</h3>
      {s.links.length === 0 && !s.droppedLinksCount ? (
        <p class="muted">None.</p>
      ) : (
        <ul class="links">
          {s.links.map((l) => {
            const same = l.traceID === trace.traceID;
            const target = same ? byID(l.spanID) : -1;
            return (
              <li>
                {same && target >= 0 ? (
                  <button type="button" class="linkish" onClick={() => onSelect(target)}>
                    span {l.spanID} in this trace
                  </button>
                ) : l.traceExists && isTraceID(l.traceID) && isSpanID(l.spanID) ? (
                  <a href={`/trace/${l.traceID}?span=${l.spanID}`}>
                    trace {l.traceID}, span {l.spanID}
                  </a>
                ) : (
                  <span>
                    trace <code>{l.traceID}</code>, span <code>{l.spanID}</code> <span class="muted">(not stored)</span>
                  </span>
                )}
                {l.attributes.length > 0 && <AttrTable attrs={l.attributes} dropped={l.droppedAttributesCount} />}
              </li>
            );
          })}
          {s.droppedLinksCount > 0 && <li class="muted">{s.droppedLinksCount} link(s) dropped</li>}
        </ul>
      )}

      <h3>Resource</h3>
      <AttrTable attrs={res?.attributes ?? []} dropped={res?.droppedAttributesCount} q={query} />

      {scope && (
        <>
          <h3>Instrumentation scope</h3>
          <p>
            <code>{scope.name || "(unnamed)"}</code> {scope.version && <span class="muted">{scope.version}</span>}
          </p>
          {scope.attributes.length > 0 && <AttrTable attrs={scope.attributes} dropped={scope.droppedAttributesCount} />}
        </>
      )}
    </aside>
  );
}

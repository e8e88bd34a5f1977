interface Props {
  label: string;
  value: unknown;
  open?: boolean;
}

/** A collapsible, pretty-printed JSON value. */
export function JsonView({ label, value, open = false }: Props) {
  return (
    <details className="json-view" open={open}>
      <summary>{label}</summary>
      <pre>{JSON.stringify(value, null, 2)}</pre>
    </details>
  );
}

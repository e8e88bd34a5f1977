interface Props {
  fraction: number | null;
  label: string;
}

/** A determinate bar when the fraction is known, an indeterminate one otherwise. */
export function ProgressBar({ fraction, label }: Props) {
  const known = fraction !== null && Number.isFinite(fraction);
  const percent = known ? Math.round(Math.min(1, Math.max(0, fraction)) * 100) : undefined;
  return (
    <div
      className="progress"
      role="progressbar"
      aria-label={label}
      aria-valuemin={0}
      aria-valuemax={100}
      aria-valuenow={percent}
      data-indeterminate={!known}
    >
      <div className="progress-fill" style={{ width: known ? `${percent}%` : undefined }} />
    </div>
  );
}

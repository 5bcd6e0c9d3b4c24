export function FieldErrors({ errors, testId }: { errors: string[] | undefined; testId?: string }) {
  if (!errors || errors.length === 0) return null;
  return (
    <ul className="field-errors" role="alert" data-testid={testId}>
      {errors.map((message, i) => (
        <li key={i}>{message}</li>
      ))}
    </ul>
  );
}

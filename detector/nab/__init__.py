"""NAB (Numenta Anomaly Benchmark) support: reading its format, streaming the model, scoring,
choosing parameters with each category held out."""

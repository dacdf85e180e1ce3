"""HTTP clients for each outside system; they alone decide what is retryable."""

"""Quality evaluation of the offline extractor: a labelled corpus, metrics and a Presidio baseline.

`python -m bench.eval` (or `make eval`) generates the corpus, runs the offline recognizers and
Presidio's pattern recognizers over the same page text, and prints precision, recall, F1, box
accuracy and throughput. Reports carry counts and rates only, never a value from a document.
"""

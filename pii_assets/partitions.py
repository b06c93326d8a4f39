"""The `documents` partitions: one dynamic partition per object under the input prefix."""

import dagster as dg

documents_partitions = dg.DynamicPartitionsDefinition(name="documents")

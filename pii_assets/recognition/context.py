"""Context words more than one structured recognizer reads."""

from __future__ import annotations

import re

# Labels of numbers that look like PII but are not: they lower a candidate's confidence.
NOT_PII_CONTEXT = re.compile(
    r"(?i)(?:\b(?:order|invoice|inv|ref|reference|routing|isbn|serial|s/n|tracking|policy"
    r"|claim|sku|part|po|ticket|case|sort code|tax id|ein|zip|version|build|release|firmware"
    r"|model|product|item|batch|lot|member id|customer id|employee id|account no|acct"
    r"|bestellnummer|rechnung|rechnungsnummer|kundennummer|commande|facture|référence|pedido"
    r"|factura|referencia|ordine|fattura|riferimento|bestelling|factuur|referentie)\b|#)"
)

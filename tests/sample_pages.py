"""Page texts that more than one test module reads (all values fake)."""

NAME, EMAIL, PHONE = "Maria Gonzalez", "maria.gonzalez@example.com", "(555) 010-1234"

# A letter in running prose: enough real words for OCR quality and orientation to be judged.
LETTER_LINES = [
    "Dear Mr. Carter,",
    "Thank you for your letter about the account you opened with us last spring.",
    "We have reviewed the statement and corrected the charges shown on the second page.",
    "Please call our office if any of the details below are not correct.",
    f"Customer: {NAME}",
    f"Email: {EMAIL}",
    f"Phone: {PHONE}",
    "Yours sincerely, the customer service team",
]

"""Medical documents from ИЭМК / РЭМД and the digital medical profile (issue 17)."""

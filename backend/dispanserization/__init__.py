"""Dispanserization and preventive exams: eligibility, the questionnaire, the first stage, multi-booking."""

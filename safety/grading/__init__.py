"""CTCAE grading of one observation under a study's criteria, with the composite criteria that join readings
over time (febrile neutropenia, sustained fever).
"""

from safety.grading.bands import grade_term
from safety.grading.composite import CompositeMemory
from safety.grading.grade import grade_example, grade_observation

__all__ = ["CompositeMemory", "grade_example", "grade_observation", "grade_term"]

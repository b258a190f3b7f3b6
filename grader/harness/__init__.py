"""The untrusted side: scripts that run INSIDE the sandbox, next to the student's code.

They import nothing from the grader (the package is not visible in the sandbox) and
everything they write is validated by the grader before it is used.
"""

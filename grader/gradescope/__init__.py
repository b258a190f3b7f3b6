"""Gradescope: the autograder zip (`build`) and what runs inside Gradescope's container (`container`).

Gradescope builds one image per assignment from the zip (`setup.sh` runs once, as root,
on Ubuntu 22.04) and starts a fresh container from it for every submission, running
`run_autograder`, which calls `grader gradescope run`. That grades the one submission
through the very functions `grader grade` uses (the sandbox included), with the
reference's evidence computed once at build time, and writes Gradescope's
`results.json` (`feedback`) whatever happens. `layout` names the container's paths and
the settings the zip carries.
"""

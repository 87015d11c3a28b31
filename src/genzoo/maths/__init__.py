"""Pure tensor maths shared by every family and by evaluation."""

"""The perceptron rule (Rosenblatt 1958) on the lecture's examples: it converges on separable data,
within Novikoff's bound of (R/γ)² mistakes, and cycles for ever on XOR.

    python examples/perceptron_rule.py
"""

import torch

from deepnets.train import perceptron

corners = torch.tensor([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
for name, labels in {"AND": [-1, -1, -1, 1], "OR": [-1, 1, 1, 1], "XOR": [-1, 1, 1, -1]}.items():
    r = perceptron(corners, torch.tensor(labels))
    state = "converged" if r.converged else ("cycles (no line separates it)" if r.cycled else "did not stop")
    print(f"{name:3s}: {state} after {r.epochs} epochs, {r.updates} mistakes; "
          f"outputs {r.predict(corners).tolist()}, w = {r.w.tolist()}, b = {r.b:g}")

# Separable points with a margin: the mistakes stay within (R/γ)² (Novikoff 1962), R = max ‖(x, 1)‖ and γ the
# margin of a unit vector u that separates them (here the generating one, so the bound is an upper one).
g = torch.Generator().manual_seed(0)
x = torch.randn(400, 5, generator=g, dtype=torch.float64)
u = torch.tensor([1.0, -2.0, 0.5, 0.0, 1.0, 0.3], dtype=torch.float64)  # weights and bias
u = u / u.norm()
xb = torch.cat([x, torch.ones(400, 1, dtype=torch.float64)], 1)
keep = (xb @ u).abs() > 0.1                                 # leave a margin of at least 0.1
x, xb = x[keep], xb[keep]
y = torch.where(xb @ u > 0, 1, -1)
gamma, R = float((y * (xb @ u)).min()), float(xb.norm(dim=1).max())
r = perceptron(x, y)
print(f"{len(y)} separable points in 5-D: converged {r.converged}, {r.updates} mistakes "
      f"(Novikoff's bound (R/γ)² = {(R / gamma) ** 2:.0f})")

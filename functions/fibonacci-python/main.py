# vSwarm's fibonacci: CPU-only work whose cost grows with n (big-integer additions of ever longer numbers).
import sys

from inputmode import pick_input, size_param

# Python refuses to print integers over 4300 digits by default; n up to 200000 needs ~42000.
if hasattr(sys, "set_int_max_str_digits"):
    sys.set_int_max_str_digits(0)


def fib_iterative(n):
    a, b = 0, 1
    for _ in range(n):
        a, b = b, a + b
    return a


def fib_recursive(n):
    # Deliberately naive: the vSwarm variant that stresses call overhead instead of bignum arithmetic.
    return n if n < 2 else fib_recursive(n - 1) + fib_recursive(n - 2)


def handler(event, context):
    inp = pick_input(event, context)
    base = int(size_param(event, "n", 1000, 200_000))
    # Input variation shifts n a little: enough to change the numbers touched, not the cost class.
    n = base + (inp["index"] if inp["pooled"] else inp["seed"] % 16)
    method = (event or {}).get("method", "iterative")
    if method == "recursive":
        if n > 32:
            raise ValueError("recursive fibonacci is limited to n <= 32 (exponential time)")
        value = fib_recursive(n)
    elif method == "iterative":
        value = fib_iterative(n)
    else:
        raise ValueError(f'method must be "iterative" or "recursive", got {method!r}')
    digits = str(value)
    return {"n": n, "method": method, "value": digits, "digits": len(digits), "input": inp}

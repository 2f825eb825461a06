// running_stats.cpp - mean, variance, minimum and maximum in a single pass.
//
// Computing the variance with the textbook formula E[x^2] - E[x]^2 subtracts
// two large, nearly equal numbers and loses precision badly, sometimes even
// producing a negative variance. Welford's online algorithm (1962) updates the
// mean and the sum of squared differences incrementally, which is numerically
// stable and needs only O(1) memory, so it works on streams of any length.
//
// Build and run:  g++ -std=c++17 -O2 -o running_stats running_stats.cpp
//                 printf '2 4 4 4 5 5 7 9\n' | ./running_stats

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <iostream>
#include <limits>

class RunningStats {
public:
    // Adds one observation.
    void push(double x) {
        ++n_;
        const double delta = x - mean_;
        mean_ += delta / static_cast<double>(n_);
        m2_ += delta * (x - mean_);  // uses the *updated* mean: this is the trick
        min_ = std::min(min_, x);
        max_ = std::max(max_, x);
    }

    // Merges another accumulator, e.g. one computed on a different thread
    // (Chan et al.'s parallel formula).
    void merge(const RunningStats& other) {
        if (other.n_ == 0) return;
        if (n_ == 0) { *this = other; return; }
        const std::size_t n = n_ + other.n_;
        const double delta = other.mean_ - mean_;
        mean_ += delta * static_cast<double>(other.n_) / static_cast<double>(n);
        m2_ += other.m2_ + delta * delta * static_cast<double>(n_) *
                               static_cast<double>(other.n_) / static_cast<double>(n);
        n_ = n;
        min_ = std::min(min_, other.min_);
        max_ = std::max(max_, other.max_);
    }

    std::size_t count() const { return n_; }
    double mean() const { return n_ ? mean_ : std::numeric_limits<double>::quiet_NaN(); }

    // Population variance (divide by n): the data is the whole population.
    double variance() const {
        return n_ ? m2_ / static_cast<double>(n_) : std::numeric_limits<double>::quiet_NaN();
    }

    // Sample variance (divide by n - 1, Bessel's correction): the data is a
    // sample used to estimate the variance of a larger population.
    double sample_variance() const {
        return n_ > 1 ? m2_ / static_cast<double>(n_ - 1)
                      : std::numeric_limits<double>::quiet_NaN();
    }

    double stddev() const { return std::sqrt(variance()); }
    double min() const { return min_; }
    double max() const { return max_; }

private:
    std::size_t n_ = 0;
    double mean_ = 0.0;
    double m2_ = 0.0;  // sum of squared differences from the current mean
    double min_ = std::numeric_limits<double>::infinity();
    double max_ = -std::numeric_limits<double>::infinity();
};

int main() {
    RunningStats stats;
    double x;
    while (std::cin >> x) stats.push(x);

    if (stats.count() == 0) {
        std::cerr << "no numbers on standard input\n";
        return 1;
    }
    // For "2 4 4 4 5 5 7 9": mean 5, population standard deviation 2.
    std::cout << "count    " << stats.count() << '\n'
              << "mean     " << stats.mean() << '\n'
              << "stddev   " << stats.stddev() << '\n'
              << "variance " << stats.variance() << " (sample: " << stats.sample_variance()
              << ")\n"
              << "min/max  " << stats.min() << " / " << stats.max() << '\n';
    return 0;
}

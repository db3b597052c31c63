using System;
using System.Collections.Generic;

namespace KestrelDemo.Api;

/// <summary>
/// The document of <c>GET /json</c>: a batch of orders made up from a seed, and figures computed
/// from them, the way a reporting endpoint of a real service answers.
/// </summary>
/// <param name="Seed">The seed the orders were made from (the same seed gives the same orders).</param>
/// <param name="Count">How many orders.</param>
/// <param name="Total">The sum of every order's amount.</param>
/// <param name="Average">The mean amount, rounded to cents.</param>
/// <param name="Largest">The order with the largest amount.</param>
/// <param name="TotalByRegion">The sum of the amounts per region.</param>
/// <param name="Orders">The orders.</param>
public sealed record OrderReport(
    int Seed,
    int Count,
    decimal Total,
    decimal Average,
    Order Largest,
    IReadOnlyDictionary<string, decimal> TotalByRegion,
    IReadOnlyList<Order> Orders)
{
    private static readonly string[] Regions = ["north", "south", "east", "west", "central"];
    private static readonly string[] Customers = ["Aster", "Birch", "Cedar", "Dahlia", "Elm", "Fern", "Gorse", "Hazel", "Iris", "Juniper"];

    /// <summary>Makes <paramref name="count"/> orders from <paramref name="seed"/> and computes the report.</summary>
    /// <param name="count">How many orders, at least 1.</param>
    /// <param name="seed">The seed.</param>
    /// <returns>The report.</returns>
    public static OrderReport Generate(int count, int seed)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(count, 1);
        var random = new Random(seed);
        var orders = new Order[count];
        var byRegion = new SortedDictionary<string, decimal>(StringComparer.Ordinal);
        decimal total = 0;
        Order largest = null!;
        for (int i = 0; i < count; i++)
        {
            int items = random.Next(1, 12);
            decimal amount = 0;
            for (int item = 0; item < items; item++)
            {
                amount += random.Next(199, 25_000) / 100m;
            }

            string region = Regions[random.Next(Regions.Length)];
            var order = new Order(i + 1, Customers[random.Next(Customers.Length)], region, items, amount);
            orders[i] = order;
            total += amount;
            byRegion[region] = byRegion.GetValueOrDefault(region) + amount;
            if (largest is null || amount > largest.Amount)
            {
                largest = order;
            }
        }

        return new OrderReport(seed, count, total, Math.Round(total / count, 2), largest, byRegion, orders);
    }
}
